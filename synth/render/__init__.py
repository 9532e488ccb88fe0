"""Rendering of synthesized views: orthographic passes matching the grid, lighting, backgrounds."""
