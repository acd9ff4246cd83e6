package web

import (
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// The OpenAPI 3 document is generated from the app's registered routes —
// the list web/permissions_test.go walks — and the roles of adminRoutes,
// so it cannot describe a route that does not exist or miss one that does.

// roleNames lists the token kinds of a role set.
func roleNames(r roles) []string {
	var out []string
	for _, x := range []struct {
		r    roles
		name string
	}{{roleAdmin, "admin"}, {roleOperator, "operator"}, {roleBusinessAdmin, "business_admin"}} {
		if r&x.r != 0 {
			out = append(out, x.name)
		}
	}
	return out
}

// fiberParam matches a Fiber path parameter with an optional constraint:
// ":node<regex(^[0-9]{1,32}$)>" or ":id".
var fiberParam = regexp.MustCompile(`:([A-Za-z_]+)(<regex\(\^?(.*?)\$?\)>)?`)

// openAPIPath turns a Fiber pattern into an OpenAPI path and its
// parameters.
func openAPIPath(pattern string) (string, []map[string]any) {
	var params []map[string]any
	path := fiberParam.ReplaceAllStringFunc(pattern, func(m string) string {
		sub := fiberParam.FindStringSubmatch(m)
		schema := map[string]any{"type": "string"}
		if sub[3] != "" {
			schema["pattern"] = "^" + sub[3] + "$"
		}
		params = append(params, map[string]any{"name": sub[1], "in": "path", "required": true, "schema": schema})
		return "{" + sub[1] + "}"
	})
	return strings.ReplaceAll(path, `\:`, ":"), params // "/upload\::session" is "/upload:{session}"
}

// publicPaths need no credential.
var publicPaths = map[string]bool{"/": true, "/healthz": true, "/readyz": true, "/openapi.json": true,
	"/oauth/access_token": true} // the app authenticates with its id and secret in the query

// openAPIDoc builds the document of routes.
func openAPIDoc(routes []fiber.Route, admin []adminRoute, server string) fiber.Map {
	type key struct{ method, path string }
	adminBy := map[key]adminRoute{}
	for _, r := range admin {
		adminBy[key{r.method, "/admin/v1" + r.path}] = r
	}
	paths := map[string]fiber.Map{}
	for _, r := range routes {
		if r.Method == fiber.MethodHead {
			continue // every GET is also served for HEAD
		}
		path, params := openAPIPath(r.Path)
		op := fiber.Map{"operationId": strings.ToLower(r.Method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_", "-", "_").Replace(path),
			"responses": fiber.Map{
				"200":     fiber.Map{"description": "success"},
				"default": fiber.Map{"description": "Graph error envelope", "content": fiber.Map{"application/json": fiber.Map{"schema": fiber.Map{"$ref": "#/components/schemas/Error"}}}},
			}}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if r.Method != fiber.MethodGet && r.Method != fiber.MethodDelete {
			op["requestBody"] = fiber.Map{"required": false, "content": fiber.Map{"application/json": fiber.Map{"schema": fiber.Map{"type": "object"}}}}
		}
		switch ar, ok := adminBy[key{r.Method, r.Path}]; {
		case ok:
			op["tags"] = []string{"admin"}
			op["x-waedge-roles"] = roleNames(ar.roles)
			op["security"] = []fiber.Map{{"bearer": []string{}}, {"session": []string{}}}
			if ar.action != "" {
				op["summary"] = ar.action
				op["x-waedge-audit-action"] = ar.action
			}
		case publicPaths[r.Path] || strings.HasPrefix(r.Path, "/console/api/") || strings.HasPrefix(r.Path, qrImagePath) ||
			strings.HasPrefix(r.Path, profilePicturePath):
			op["tags"] = []string{"public"}
			op["security"] = []fiber.Map{}
			op["x-waedge-roles"] = []string{}
		default:
			op["tags"] = []string{"graph"}
			op["x-waedge-roles"] = []string{"api"}
			op["security"] = []fiber.Map{{"bearer": []string{}}}
		}
		if paths[path] == nil {
			paths[path] = fiber.Map{}
		}
		paths[path][strings.ToLower(r.Method)] = op
	}
	return fiber.Map{
		"openapi": "3.0.3",
		"info": fiber.Map{"title": "waedge", "version": "v1",
			"description": "The WhatsApp Business Cloud API (Graph-compatible; every Graph path is also served below /vNN.N/) and waedge's admin API. " +
				"x-waedge-roles names the roles that may call each operation (api: a business's access token)."},
		"servers": []fiber.Map{{"url": server}},
		"paths":   paths,
		"components": fiber.Map{
			"securitySchemes": fiber.Map{
				"bearer":  fiber.Map{"type": "http", "scheme": "bearer"},
				"session": fiber.Map{"type": "apiKey", "in": "cookie", "name": "waedge_session", "description": "console session; state-changing calls also need X-CSRF-Token"},
			},
			"schemas": fiber.Map{"Error": fiber.Map{"type": "object", "properties": fiber.Map{"error": fiber.Map{"type": "object", "properties": fiber.Map{
				"message": fiber.Map{"type": "string"}, "type": fiber.Map{"type": "string"}, "code": fiber.Map{"type": "integer"},
				"error_data": fiber.Map{"type": "object"}, "fbtrace_id": fiber.Map{"type": "string"}}}}}},
		},
	}
}

// serveOpenAPI registers GET /openapi.json; the document is built on the
// first request, when every route is registered.
func serveOpenAPI(app *fiber.App, admin *adminAPI, server string) {
	var once sync.Once
	var doc fiber.Map
	app.Get("/openapi.json", func(c *fiber.Ctx) error {
		once.Do(func() {
			routes := app.GetRoutes(true)
			sort.SliceStable(routes, func(i, j int) bool { return routes[i].Path < routes[j].Path })
			doc = openAPIDoc(routes, admin.adminRoutes(), server)
		})
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.JSON(doc)
	})
}
