"""Delivery: claim due deliveries, sign, POST, record, reschedule."""
