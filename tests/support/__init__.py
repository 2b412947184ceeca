"""What the integration tests share: the demo's actors by name (`demo`), the emulated world as a
test reads and changes it (`world`), and what the store remembers (`remembered`)."""
