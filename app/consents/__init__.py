"""Patients' informed consent to a procedure: recorded, read, withdrawn, and asked for before a
treatment is recorded (`service.require_consent`)."""
