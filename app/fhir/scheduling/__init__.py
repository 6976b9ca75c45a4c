"""The IHE ITI Scheduling operations (`$find`, `$hold`, `$book`) and cancelling an
Appointment: `service` reads their parameters and runs the REST API's own services; `router`
is their HTTP side."""
