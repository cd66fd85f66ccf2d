"""Files: decoding photos, exporting results, sidecars, enhancing a file or a folder."""
