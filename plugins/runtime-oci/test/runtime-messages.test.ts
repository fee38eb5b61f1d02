import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runcWording } from '../src/runtime-messages.js';

test("crun's messages in runc's words, which the docker CLI turns into exit 127", () => {
  assert.is(
    runcWording('executable file `nosuchcmd` not found in $PATH: No such file or directory'),
    'exec: "nosuchcmd": executable file not found in $PATH',
  );
  assert.is(runcWording('chdir `/nonexist`: No such file or directory'), 'chdir `/nonexist`: no such file or directory');
  assert.is(runcWording('open `/x`: Permission denied'), 'open `/x`: permission denied');
});

test("runc's own messages pass unchanged", () => {
  const runc = 'exec failed: unable to start container process: exec: "nosuchcmd": executable file not found in $PATH';
  assert.is(runcWording(runc), runc);
});

test.run();
