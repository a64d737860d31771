// Renders /openapi.json with Swagger UI. validatorUrl: null keeps the page
// from calling validator.swagger.io: the page loads nothing from elsewhere.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  displayOperationId: true,
});
