"""The import layers of the package: who may import whom.

A module may import from its own layer and from the layers below it, never from a layer above
(``tests/test_layers.py`` reads every import of the package and fails on one that points up, on
a circle of imports, and on an import inside a function that guards nothing). The order follows
the lectures: the mathematics of one piece (a likelihood, a KL, a prior) does not know the models
built from it, and the models do not know the training loop, the pictures or the command line.

Names are module paths below ``minivae``; a name ending in ``.*`` stands for a package and all
its modules. The package's own ``__init__`` (the public API) may import from every layer.
"""

LAYERS = (
    # 0. the exceptions minivae raises on purpose
    ("errors", "version"),
    # 1. machinery that knows no mathematics
    ("runtime", "runtime.validation", "runtime.files", "runtime.blas", "runtime.progress", "runtime.layers"),
    # 2. the building blocks: a flat parameter vector, layers, log-space sums, finite
    #    differences, the data sets; the split training step (it only calls a model's methods)
    ("params", "nn", "logspace", "gradcheck", "datasets.*", "runtime.parallel"),
    # 3. the pieces of the bound and its optimization
    ("likelihoods", "kl", "priors.*", "estimators", "optim", "mixture", "disentanglement"),
    # 4. the models, their registry and their checkpoints
    ("models.*",),
    # 5. what is done with a model: evaluating, inferring, training (and the run's options);
    #    the checks of the notebooks' exercises
    ("evaluate", "semisupervised", "inpaint", "options", "train", "vade", "inference", "exercises.*"),
    # 6. pictures
    ("plots.*",),
    # 7. the command line
    ("cli.*", "__main__"),
)

#: third-party imports allowed inside a function: optional packages minivae runs without
OPTIONAL_IMPORTS = ("tqdm.notebook",)

#: the largest module, in lines, before it should be split
MAX_LINES = 600


def layer_of(module: str):
    """The layer index of ``module`` (a path below ``minivae``), or None if it is not listed."""
    for i, names in enumerate(LAYERS):
        for name in names:
            if name.endswith(".*"):
                package = name[:-2]
                if module == package or module.startswith(package + "."):
                    return i
            elif module == name:
                return i
    return None
