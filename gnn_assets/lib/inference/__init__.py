"""The inference domain: a task's chain partitioned by job name, its checks, sensors and schedules."""
