"""Widgets: the canvas, the exposure dial, the histogram, the side panel and its layer list, the
filmstrip and cull bar, the history list, the training plots, and the app's look (theme)."""
