"""Operations: deployments and automations on a Prefect server, failed-record replay, quota
status and log masking (issue #8)."""
