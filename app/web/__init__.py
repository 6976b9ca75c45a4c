"""The HTTP side: problem+json, middleware, request parameters, and the dependencies every
router shares (the clinic's clock, the caller and their permission, the audit trail)."""
