#include "posix/openapi_route.h"

#include "spore_openapi_asset.h"  // generated in the build tree by cmake/openapi.cmake

namespace spore::posix {

namespace {

int write_openapi(const HttpRequest&, JsonOutput& out) {
  const std::string_view doc = openapi_document();
  out.write(doc.data(), doc.size());
  return 200;
}

}  // namespace

std::string_view openapi_document() {
  return std::string_view(generated::kOpenApiJson, sizeof generated::kOpenApiJson - 1);
}

bool serve_openapi(RestApi& api) {
  return api.add_text_route(kOpenApiPath, HttpMethod::kGet, RouteAuth::kPublic, "application/json",
                            RestApi::TextHandler(&write_openapi));
}

}  // namespace spore::posix
