"""Checks for the notebooks' exercises: each says plainly whether an answer is right, and if not,
what differs.

Every exercise of a notebook is a pair of cells in nbgrader's format (see ``docs/notation.md``
and ``notebooks/student_edition.py``): a *solution cell* that defines a function, its body
between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, and a *check cell* that calls one of the
functions below on that function.

A check either prints one line, ``✓ exercise 1: correct ...``, or raises
:class:`ExerciseNotPassed`, an ``AssertionError`` whose message is one plain line,

    ✗ exercise 1, not yet: d/dlog_var differs from central differences: worst entry at index
    (2, 1): expected 0.8591, got 1.718 (12 of 12 entries differ)

or, for a student edition's stub, ``✗ exercise 1, not yet: not answered (NotImplementedError:
<hint>)``. Raising is what nbgrader's autograder counts (a test cell that raises scores 0); in
Jupyter the exception shows as that one line, without a traceback (IPython prints what
``_render_traceback_`` returns). A student's function that raises anything else is reported the
same way, with the error's type and message, never as a traceback into minivae.

Gradient exercises (``check_*_gradient``, ``check_*_backward``) draw random shapes and values
from a seeded generator, and compare the student's derivative with central differences of the
forward function in float64 (:func:`minivae.gradcheck.numerical_gradient`) and with minivae's own
backward pass.

:func:`check_environment` is the first code cell of every notebook: one line saying that all is
well, or what to do.
"""
from .checks import *  # noqa: F401,F403
from .checks import __all__ as _checks
from .graders import *  # noqa: F401,F403
from .graders import __all__ as _graders
from .inference import *  # noqa: F401,F403
from .inference import __all__ as _inference
from .priors import *  # noqa: F401,F403
from .priors import __all__ as _priors
from .semisupervised import *  # noqa: F401,F403
from .semisupervised import __all__ as _semisupervised

__all__ = [*_checks, *_graders, *_inference, *_priors, *_semisupervised]
