"""The one decision core: inputs, engine, reasons, input hash."""
