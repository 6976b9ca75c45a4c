"""How a course is going: reviews of its treated sites (the response of each, the complications
seen since) and the course's summary (per site: sessions, amounts given, latest response; the
sessions done and the next visit)."""
