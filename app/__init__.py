"""sclerosched: patients, evaluations and treatment sessions for micro-sclerotherapy clinics."""

__version__ = "0.1.0"
