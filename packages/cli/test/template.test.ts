import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Template, TemplateError } from '../src/format/template.js';

const inspect = {
  Id: 'abc',
  Name: '/web',
  State: { Status: 'running', Running: true, ExitCode: 0, Pid: 4242 },
  Config: { Env: ['A=1', 'B=2'], Labels: { 'com.x': 'y', a: 'b' }, Entrypoint: null, Cmd: ['sh', '-c', 'echo hi'] },
  NetworkSettings: { IPAddress: '172.17.0.3', Networks: { bridge: { IPAddress: '172.17.0.3' } } },
  Mounts: [
    { Source: '/a', Destination: '/x' },
    { Source: '/b', Destination: '/y' },
  ],
};

const r = (src: string, data: unknown = inspect): string => Template.parse(src).render(data);

test('field paths, with text around, as docker inspect -f', () => {
  assert.is(r('{{.State.Status}} {{.NetworkSettings.IPAddress}}'), 'running 172.17.0.3');
  assert.is(r('{{ .Name }}'), '/web');
  assert.is(r('pid={{.State.Pid}} running={{.State.Running}}'), 'pid=4242 running=true');
  assert.is(r('{{.Nope}}|{{.State.Nope}}'), '<no value>|<no value>');
  assert.is(r('{{.Config.Entrypoint}}'), '<nil>');
});

test('Go printing of lists and maps', () => {
  assert.is(r('{{.Config.Env}}'), '[A=1 B=2]');
  assert.is(r('{{.Config.Labels}}'), 'map[a:b com.x:y]');
});

test('json, index, join, len, upper, printf, pipelines', () => {
  assert.is(r('{{json .State}}'), '{"Status":"running","Running":true,"ExitCode":0,"Pid":4242}');
  assert.is(r('{{json .Config.Entrypoint}}'), 'null');
  assert.is(r('{{index .Config.Labels "com.x"}}'), 'y');
  assert.is(r('{{index .Config.Cmd 2}}'), 'echo hi');
  assert.is(r('{{join .Config.Cmd " "}}'), 'sh -c echo hi');
  assert.is(r('{{len .Mounts}}'), '2');
  assert.is(r('{{.State.Status | upper}}'), 'RUNNING');
  assert.is(r('{{printf "%s:%d" .Name .State.Pid}}'), '/web:4242');
  assert.is(r('{{json (index .NetworkSettings.Networks "bridge")}}'), '{"IPAddress":"172.17.0.3"}');
});

test('if/else, range, with, trim markers', () => {
  assert.is(r('{{if .State.Running}}up{{else}}down{{end}}'), 'up');
  assert.is(r('{{if .Config.Entrypoint}}ep{{else if .Config.Cmd}}cmd{{else}}none{{end}}'), 'cmd');
  assert.is(r('{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}'), '/a:/x /b:/y ');
  assert.is(r('{{range .Config.Entrypoint}}x{{else}}empty{{end}}'), 'empty');
  assert.is(r('{{with .State}}{{.Status}}{{end}}'), 'running');
  assert.is(r('a  {{- .Name -}}  b'), 'a/webb');
  assert.is(r('{{if eq .State.Status "running"}}yes{{end}}'), 'yes');
});

test('a context class computes fields; unknown fields on it are errors', () => {
  class Row {
    get ID(): string {
      return 'abc123';
    }
    Label(name: string): string {
      return name === 'k' ? 'v' : '';
    }
  }
  assert.is(r('{{.ID}} {{.Label "k"}}', new Row()), 'abc123 v');
  assert.throws(() => r('{{.Nope}}', new Row()), /can't evaluate field Nope/);
});

test('mistakes are TemplateErrors with the reason', () => {
  assert.throws(
    () => Template.parse('{{.Name'),
    (e: unknown) => e instanceof TemplateError && /unclosed action/.test((e as Error).message),
  );
  assert.throws(() => Template.parse('{{nosuchfunc .Name}}'), /function "nosuchfunc" not defined/);
  assert.throws(() => Template.parse('{{if .X}}'), /unexpected EOF/);
  assert.throws(() => Template.parse('{{end}}'), /unexpected \{\{end\}\}/);
});

test('header mode: docker functions pass the header through', () => {
  const headers = { ID: 'CONTAINER ID', Names: 'NAMES' };
  assert.is(Template.parse('{{json .ID}}\t{{upper .Names}}').render(headers, { header: true }), 'CONTAINER ID\tNAMES');
});

test.run();
