"""What a model costs on a piece of hardware: kernels, profiles, graphs and the estimator."""
