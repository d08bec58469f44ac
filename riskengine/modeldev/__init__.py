"""Model development (shell): training, evaluation, the validation report."""
