"""What a model costs on a piece of hardware: model graphs and the predictors (estimator, host
kernel model, roofline, calibration, language models, training steps). The tools that measure on
this machine (profiler, probe graphs, numpy kernels, `measure()`) live apart in `costs.measure`."""
