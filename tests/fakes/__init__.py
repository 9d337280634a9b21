"""Local fakes of remote services, speaking their real wire formats."""
