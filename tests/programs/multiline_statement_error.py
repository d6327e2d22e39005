# expect: error AttributeError line 16
# An AttributeError in the middle of a statement spanning several lines.
records = [
    {"name": "ana", "city": "Lisbon"},
    {"name": "bo", "city": None},
    {"name": "cy", "city": "Quito"},
]
known = [r for r in records if r["city"]]
print("known cities:", ", ".join(r["city"] for r in known))
summary = {
    "count": len(records),
    "names": [r["name"].title() for r in records],
}
print(summary)
cities = [
    r["city"].upper()
    for r in records
]
print(cities)
