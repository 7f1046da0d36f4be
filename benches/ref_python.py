"""The reference scripts' one set-up step: the Python libraries they score with (numpy,
scikit-learn) live in a venv outside the repo, never a dependency of semclust. A script run by
another Python re-runs itself under $REF_PY (once: the child runs without REF_PY)."""
import importlib.util
import os
import sys


def require(*modules):
    """Return when every module in `modules` can be imported; else re-run the calling script
    under $REF_PY, or exit saying what is missing."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    ref = os.environ.pop("REF_PY", None)
    if ref:
        os.execve(ref, [ref, *sys.argv], os.environ)
    sys.exit(f"needs {' and '.join(missing)}: set REF_PY to a Python that has them "
             "(a venv outside the repo)")
