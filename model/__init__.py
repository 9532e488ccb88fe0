"""thuman.model: the DeepHuman network (G, H, R), losses, training, evaluation and inference."""
