"""thuman.synth: the DeepHuman training-corpus synthesizer (renders, volumes, normal maps)."""
