"""Build the tracer's optional C speedups; the metadata is in pyproject.toml.

The extension is optional: where no C compiler or Python headers are at hand, the build goes
on without it and the tracer runs its Python backends, which write the same traces (slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[Extension("snapy._speedups", ["snapy/_speedups.c"], optional=True)],
)
