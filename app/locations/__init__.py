"""The clinic's sites, their treatment rooms, and the times a room is closed."""
