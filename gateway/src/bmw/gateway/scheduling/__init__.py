"""Free slots, agendas, appointments and workshops, resolved through the scheduling service."""
