"""What every wing uses: adjustments, errors, progress and cancel, pixels, sRGB, paths, atomic writes."""
