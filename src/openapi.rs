//! The OpenAPI document: its header, security schemes and tags. Paths and schemas are
//! collected from the handlers by utoipa-actix-web.

use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from /api/v1/auth/login or /api/v1/auth/token.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new(
                    "/api/v1/auth/token",
                    Scopes::new(),
                ))],
                "Log in with a user name and password (the demo accounts are in the README).",
            )),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "welfare-grants",
        description = "The call engine of Regione Lombardia's work-life balance and company welfare grants: \
calls, partnerships, applications, review by the eight ATS, rankings and allocation.\n\n\
Money is a string with two decimals (`\"50000.00\"`); errors are `application/problem+json` with a stable `code` \
and, for validation failures, every violated rule in `violations`. Messages are in Italian with `Accept-Language: it`.\n\n\
To try it: press **Authorize**, and log in with a demo account in the *oauth2* form.",
        version = "1.0.0",
        license(name = "EUPL-1.2")
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Log in, tokens, own account"),
        (name = "users", description = "User management (admin)"),
        (name = "agencies", description = "The eight ATS"),
        (name = "calls", description = "Calls for proposals, amendments and envelopes"),
        (name = "operations", description = "Health of the service"),
    )
)]
struct ApiDoc;

/// The document before the handlers add their paths.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
