"""Azure Functions triggers for PAL Watch: each turns its payload into one engine call.

No business logic lives here (see shared/usecases); triggers log a one-line outcome.
"""

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
