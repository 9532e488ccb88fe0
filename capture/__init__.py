"""thuman.capture: RGB-D sources, DoubleFusion-style tracking and fusion, the capture session."""
