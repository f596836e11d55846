#include "api/client/template.h"

#include <gtest/gtest.h>

namespace berth::api::client {
namespace {

using nlohmann::json;

std::string render(std::string_view t, const json& dot) {
  auto tmpl = Template::parse(t);
  EXPECT_TRUE(tmpl) << (tmpl ? "" : tmpl.error().message());
  if (!tmpl) return "<parse error>";
  auto out = tmpl->render(dot);
  EXPECT_TRUE(out) << (out ? "" : out.error().message());
  return out ? *out : "<render error>";
}

const json kInspect = json::parse(R"({
  "Id": "abc123", "Name": "/web", "RestartCount": 2,
  "State": {"Status": "running", "Running": true, "Pid": 4242, "ExitCode": 0, "OOMKilled": false},
  "Config": {"Cmd": ["sh", "-c", "echo hi"], "Labels": {"app": "db", "tier": "back"}, "Env": null,
             "Tty": false},
  "Mounts": [{"Destination": "/data", "Source": "/v/a"}, {"Destination": "/cache", "Source": "/v/b"}],
  "HostConfig": {"Memory": 67108864, "NanoCpus": 1.5e9}
})");

TEST(Template, FieldsAndNestedFields) {
  EXPECT_EQ(render("{{.Id}}", kInspect), "abc123");
  EXPECT_EQ(render("{{.State.Status}} pid={{.State.Pid}}", kInspect), "running pid=4242");
  EXPECT_EQ(render("{{.State.Running}} {{.State.OOMKilled}}", kInspect), "true false");
  EXPECT_EQ(render("{{.HostConfig.Memory}}", kInspect), "67108864");
  EXPECT_EQ(render("{{.HostConfig.NanoCpus}}", kInspect), "1500000000");  // a float that is integral
}

TEST(Template, GoPrintingOfCompositesNullAndMissing) {
  EXPECT_EQ(render("{{.Config.Cmd}}", kInspect), "[sh -c echo hi]");
  EXPECT_EQ(render("{{.Config.Labels}}", kInspect), "map[app:db tier:back]");
  EXPECT_EQ(render("{{.Config.Env}}", kInspect), "<nil>");
  EXPECT_EQ(render("{{.Config.Nope}}", kInspect), "<no value>");
  EXPECT_EQ(render("{{.Nope.Deeper}}", kInspect), "<no value>");
}

TEST(Template, JsonFunctionAndPipe) {
  EXPECT_EQ(render("{{json .Config.Cmd}}", kInspect), R"(["sh","-c","echo hi"])");
  EXPECT_EQ(render("{{.State | json}}", kInspect),
            R"({"ExitCode":0,"OOMKilled":false,"Pid":4242,"Running":true,"Status":"running"})");
  EXPECT_EQ(render("json", json{{"a", 1}}), R"({"a":1})");  // the bare "json" format
  EXPECT_EQ(render("{{json .}}", json::array({1, "x"})), R"([1,"x"])");
}

TEST(Template, IndexJoinCaseLenPrintf) {
  EXPECT_EQ(render(R"({{index .Config.Labels "app"}})", kInspect), "db");
  EXPECT_EQ(render(R"({{index .Config.Cmd 2}})", kInspect), "echo hi");
  EXPECT_EQ(render(R"({{join .Config.Cmd ","}})", kInspect), "sh,-c,echo hi");
  EXPECT_EQ(render("{{upper .State.Status}} {{lower \"ABC\"}} {{title \"hello world\"}}", kInspect),
            "RUNNING abc Hello World");
  EXPECT_EQ(render("{{len .Mounts}}", kInspect), "2");
  EXPECT_EQ(render(R"({{printf "%s:%d" .Name .RestartCount}})", kInspect), "/web:2");
  EXPECT_EQ(render(R"({{split "a:b:c" ":"}})", kInspect), "[a b c]");
}

TEST(Template, RangeIfElseWithAndComparisons) {
  EXPECT_EQ(render("{{range .Mounts}}{{.Destination}} {{end}}", kInspect), "/data /cache ");
  EXPECT_EQ(render("{{if .State.Running}}up{{else}}down{{end}}", kInspect), "up");
  EXPECT_EQ(render("{{if .State.OOMKilled}}oom{{else if .State.Running}}run{{end}}", kInspect), "run");
  EXPECT_EQ(render(R"({{if eq .State.Status "running"}}yes{{end}})", kInspect), "yes");
  EXPECT_EQ(render(R"({{if ne .RestartCount 2}}x{{else}}two{{end}})", kInspect), "two");
  EXPECT_EQ(render("{{with .State}}{{.Pid}}{{end}}", kInspect), "4242");
  EXPECT_EQ(render("{{range .Config.Env}}x{{else}}empty{{end}}", kInspect), "empty");
  EXPECT_EQ(render("{{range $.Mounts}}{{$.Name}}{{end}}", kInspect), "/web/web");
  EXPECT_EQ(render("{{if not .State.OOMKilled}}ok{{end}}", kInspect), "ok");
}

TEST(Template, TrimMarkersAndEscapes) {
  EXPECT_EQ(render("a  {{- .Id -}}  b", kInspect), "aabc123b");
  EXPECT_EQ(render(R"({{.Id}}\t{{.Name}}\n)", kInspect), "abc123\t/web\n");
}

TEST(Template, ParseAndRenderErrors) {
  EXPECT_FALSE(Template::parse("{{.Id"));
  EXPECT_FALSE(Template::parse("{{if .X}}no end"));
  EXPECT_FALSE(Template::parse("{{end}}"));
  EXPECT_FALSE(Template::parse(R"({{"unterminated}})"));
  auto t = Template::parse("{{nosuchfunc .Id}}");
  ASSERT_TRUE(t);
  auto r = t->render(kInspect);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("nosuchfunc"), std::string::npos);
  auto t2 = Template::parse("{{index .Config.Cmd 9}}");
  ASSERT_TRUE(t2);
  EXPECT_FALSE(t2->render(kInspect));
}

TEST(Template, TableHeaderAndTabulate) {
  std::string body;
  ASSERT_TRUE(template_is_table("table {{.ID}}\t{{.Names}}", &body));
  EXPECT_EQ(body, "{{.ID}}\t{{.Names}}");
  EXPECT_FALSE(template_is_table("{{.ID}}", nullptr));
  EXPECT_EQ(table_header(R"({{.ID}}\t{{.Names}}\t{{.Other}})", {{"ID", "CONTAINER ID"}, {"Names", "NAMES"}}),
            "CONTAINER ID\tNAMES\tOTHER");
  EXPECT_EQ(tabulate({"A\tBB\tC", "aaaa\tb\tc"}), "A         BB        C\naaaa      b         c\n");
  EXPECT_EQ(tabulate({"COMMAND\tX", "\"sh -c 'while true; …\"\tY"}),
            "COMMAND                  X\n\"sh -c 'while true; …\"   Y\n");
}

}  // namespace
}  // namespace berth::api::client
