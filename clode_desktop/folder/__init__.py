"""A folder of photos in the editor: the filmstrip's session (thumbnails, reading ahead), editing across
the selection, culling."""
