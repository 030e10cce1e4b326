"""Operations: structured logs, health and readiness, metrics, serving."""
