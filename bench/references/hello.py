"""The framework's ceiling: an async FastAPI route answering a small JSON object (no database,
no credential)."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"id": "3f1c", "given_name": "Ann", "family_name": "Lee", "status": "booked"}
