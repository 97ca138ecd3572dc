"""Image data sets for minivae: finding, downloading, verifying, parsing and batching them.

Three data sets are known (see :data:`DATASETS`):

``"mnist"``
    Handwritten digits, 60,000 train / 10,000 test grey-level 28x28 images with labels.
``"fashion-mnist"``
    Zalando's clothing images, same sizes and file format as MNIST.
``"binarized-mnist"``
    The fixed (static) binarization of MNIST by Larochelle & Murray (2011), the standard
    benchmark of the VAE literature: 50,000 train / 10,000 valid / 10,000 test rows of 0/1
    pixels, no labels.

Files live below a *data root* (see :func:`resolve_root`) in the layout::

    <root>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <root>/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <root>/binarized-mnist/binarized_mnist_{train,valid,test}.amat.gz   (or .amat)

Missing files are downloaded from the mirrors in the registry, and every file is checked
against a SHA-256 before it is used, so a half-written or tampered file never silently
turns into training data.

Typical use::

    data = load("mnist", "train")              # Dataset(x=(60000, 784) float32, y=(60000,))
    rng = np.random.default_rng(0)
    for xb in batches(data.x, 128, rng, binarize="dynamic"):
        ...
"""

from .batching import batches
from .download import download, fetch
from .formats import content_sha256, read_amat, read_idx
from .loading import load
from .registry import DATASETS, ENV_VAR, N_PIXELS, Dataset, resolve_root
from .transforms import binarize, binarize_fixed, dequantize, dequantize_fixed, threshold

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "N_PIXELS",
    "Dataset",
    "resolve_root",
    "download",
    "fetch",
    "read_idx",
    "read_amat",
    "dequantize",
    "dequantize_fixed",
    "load",
    "binarize",
    "threshold",
    "binarize_fixed",
    "batches",
    "content_sha256",
]
