//! Haystack timezone names (city names such as `New_York`) mapped to IANA zones and back.
