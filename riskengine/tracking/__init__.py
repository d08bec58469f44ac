"""MLflow (shell): runs, registry, the engine as a pyfunc."""
