#pragma once
/// @file openapi_route.h
/// GET /openapi.json on Linux nodes: the OpenAPI 3.1 description of the REST API
/// (docs/openapi.json, embedded at build time by cmake/openapi.cmake). The ESP8266 does not serve
/// it (flash); its users read the repository's copy.

#include <string_view>

#include "spore/http/rest_api.h"

namespace spore::posix {

/// The path the document is served at.
constexpr std::string_view kOpenApiPath = "/openapi.json";

/// The embedded document (the bytes of docs/openapi.json at build time).
std::string_view openapi_document();

/// Adds GET kOpenApiPath to `api`, public, `application/json`; it then appears in the node's api
/// list. False when the route table or the api registry is full.
bool serve_openapi(RestApi& api);

}  // namespace spore::posix
