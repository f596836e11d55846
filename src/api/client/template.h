#pragma once
// The subset of Go's text/template that `docker ... --format` users rely on, evaluated over JSON:
//   {{.}}  {{.Field}}  {{.A.B}}  {{json .X}}  {{.X | json}}  {{index .Labels "k"}}  {{join .Names ","}}
//   {{upper .X}} {{lower .X}} {{title .X}} {{len .X}} {{println .X}} {{printf "%s:%d" .A .B}}
//   {{if .X}}..{{else}}..{{end}}  {{if eq .A "b"}}  {{range .Mounts}}{{.Destination}} {{end}}
//   {{- and -}} trim markers, string and integer literals, $ for the top value.
// Values print as Go does: maps as map[k:v], arrays as [a b], null as <nil>, a missing key as <no value>.
// Also "json" alone means {{json .}}, and a leading "table " means a header row plus aligned columns
// (the caller handles that with template_is_table / table_header).

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::api::client {

struct TemplateNode;

class Template {
 public:
  // Parses a --format string (after "table " was stripped, "json" expanded); literal \t and \n become tab and
  // newline as in docker.
  static Result<Template> parse(std::string_view text);
  Result<std::string> render(const nlohmann::json& dot) const;

  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;
  ~Template();

 private:
  Template() = default;
  std::vector<std::unique_ptr<TemplateNode>> nodes_;
};

// "table {{.ID}}\t{{.Names}}" -> true and the rest.
bool template_is_table(std::string_view format, std::string* rest);
// The docker header for a table format: each {{.Field}} becomes its header name (ID -> "CONTAINER ID" style
// names from the given map, else the field name upper-cased), other text kept.
std::string table_header(std::string_view format, const std::vector<std::pair<std::string, std::string>>& names);
// Go's %v of a JSON value.
std::string go_print(const nlohmann::json& v);
// Aligns tab-separated lines into columns (padding 3, minimum cell width 10), as docker's tabwriter output.
std::string tabulate(const std::vector<std::string>& lines);

}  // namespace berth::api::client
