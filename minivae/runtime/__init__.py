"""The machinery under the mathematics: nothing here is in the lectures.

* :mod:`~minivae.runtime.validation` -- the argument checks at the public boundary, with errors
  that say what was wrong and what was expected;
* :mod:`~minivae.runtime.files` -- one atomic write for checkpoints, downloads and pictures;
* :mod:`~minivae.runtime.blas` -- how many threads NumPy's BLAS may use (through threadpoolctl);
* :mod:`~minivae.runtime.parallel` -- a training step split across threads;
* :mod:`~minivae.runtime.progress` -- the progress bar of a training epoch;
* :mod:`minivae.options` (at the top level) -- the one description of a training run's options, from which
  the command line, the Trainer and the checkpoint's saved settings are derived;
* :mod:`~minivae.runtime.layers` -- the import layers of the whole package, which
  ``tests/test_layers.py`` enforces.

A student reading the derivations can skip this folder; the modules at the top level of
``minivae`` import from it, never the other way round.
"""
