"""Training: architectures, the β-VAE, packs of runs as one stacked model, the optimiser."""
