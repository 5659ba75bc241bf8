package api

import (
	"encoding/json"
	"net/http"
	"sync"

	_ "embed"

	"go.yaml.in/yaml/v3"
)

// OpenAPIYAML is the API's OpenAPI 3.1 document, kept beside the handlers
// so they change together. Tests validate every response against it.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(OpenAPIYAML, &doc); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
})

func (s *Server) openAPI(*http.Request, []byte) (int, any, error) {
	b, err := openAPIJSON() // converted once, on first request, not at cold start
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rawJSON(b), nil
}
