"""The package list of the wheel (the rest of the build is in pyproject.toml).

The repository keeps the shipped model and the example payload at the top (models/,
examples/); package_dir maps them into the package as riskengine._models and
riskengine._examples when a wheel is built, so one copy is committed and the installed
package reads them with importlib.resources (riskengine/io/locations.py).
"""

from setuptools import find_namespace_packages, setup

SHIPPED = {"riskengine._models": "models", "riskengine._examples": "examples"}

setup(
    packages=[*find_namespace_packages(include=["riskengine", "riskengine.*"],
                                       exclude=["*.__pycache__"]), *SHIPPED],
    package_dir=SHIPPED,
)
