"""Settings shared by every test in the repository."""

from hypothesis import HealthCheck, settings

# A shared 2-core machine is slow at times: no per-example deadline, and no health check for slow data.
settings.register_profile("bmw", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("bmw")
