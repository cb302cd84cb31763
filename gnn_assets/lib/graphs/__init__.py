"""The graphs domain: each graph's source and its enumeration."""
