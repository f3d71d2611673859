// Package hbs parses and renders Handlebars templates as Amazon SES
// renders email templates: the features SES's guide documents, no more
// and no less. Anything else is refused when parsed, with the line and
// column and a message naming the feature, rather than rendered in a way
// SES would not.
//
// What SES documents. The SES developer guide's "Advanced email
// personalization" page (send-personalized-email-advanced) shows nested
// attributes ({{contact.firstName}}), {{#each}} over an array,
// {{#if}}…{{else}}…{{/if}}, and inline partials ({{#* inline "name"}}…
// {{/inline~}} then {{> name}}), with the ~ of whitespace control; it
// says SES does not escape HTML; and it refers to Handlebars's "Built-in
// Helpers" page for more. From that page we take the other built-in block
// helpers, #unless and #with, and what #each sets (@index, @key, @first,
// @last, and @../index in nested loops), in their one-argument form.
// Paths are Handlebars's: this, ./name, ../name (SES's Handlebars is
// Handlebars.js-compatible, and ../ is how a block reaches the context
// around it), [literal] names, a/b as a.b, and an array's length.
//
// Supported:
//
//	{{name}} {{a.b.c}} {{this}} {{../name}} {{[odd key]}}   variables (SES guide: nested attributes)
//	{{{name}}}                                              the same, never escaped
//	{{#if x}}…{{else}}…{{/if}}                              Handlebars truthiness: false, null, missing, "", 0, [] are falsy (SES guide: conditionals)
//	{{#unless x}}…{{else}}…{{/unless}}                      (Handlebars built-in helpers)
//	{{#each list}}…{{else}}…{{/each}}                       arrays (SES guide) and objects (built-in helpers), with @index @key @first @last
//	{{#with obj}}…{{else}}…{{/with}}                        (Handlebars built-in helpers)
//	{{#*inline "name"}}…{{/inline}} and {{> name}}          inline partials, scoped to the block defining them (SES guide)
//	{{! comment }} {{!-- comment with }} --}}               comments
//	{{~ … ~}} and standalone lines                          whitespace control (SES guide's {{/inline~}})
//	\{{literal}}                                            a literal {{ (Handlebars escaping)
//
// Refused: helpers other than those four (lookup, log and any custom
// helper), more than one argument, hash arguments (includeZero=true),
// sub-expressions, block parameters (as |x|), {{else if}} chains,
// partials that are not inline (SES has no registered partials), partial
// blocks, partial contexts and parameters, decorators other than inline,
// raw blocks, {{&x}}, {{^x}} and {{^}}, @root and other data variables,
// and a loop variable outside {{#each}}.
//
// Where SES's guide and Handlebars.js differ, the guide wins:
//
//   - SES does not HTML-escape {{values}}, so neither does Render; a
//     caller wanting Handlebars.js's escaping sets Options.EscapeHTML.
//     {{{values}}} are never escaped, so with SES the two print the same.
//     SES's emulator (internal/sesim) renders with this package's
//     defaults, so its TestRenderEmailTemplate and SendOps's preview
//     agree; its TestRenderAsSES lists each rule with its source.
//   - A line break right after an inline partial's definition is not
//     rendered ("The newline isn't rendered in the final output").
//   - A printed variable the data lacks fails SES's rendering
//     (MissingRenderingAttribute). Render prints it as empty, as
//     Handlebars does, and lists it in its Report, so that a preview
//     still shows the rest.
//
// Every render is bounded (Limits): output size, nesting, loop iterations
// and steps, so no template and data can hang it or exhaust memory.
package hbs
