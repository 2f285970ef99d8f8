"""Demo WebSocket gateway relaying Redis pub/sub messages to browser clients."""
