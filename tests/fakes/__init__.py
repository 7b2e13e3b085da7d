"""Local fake AWS endpoints for tests and benchmarks: a loopback proxy in front of moto that serves
the APIs moto lacks in their real wire format and injects latency and faults."""
