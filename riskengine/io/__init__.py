"""Files (shell): model artifacts, portfolio directories, real data sets, outputs."""
