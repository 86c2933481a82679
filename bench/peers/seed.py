# seed: the design this project started from. FastAPI with a per-user dict of sockets, on uvicorn
# (uvloop + httptools), one socket per user as in the seed, the same JSON body and answers.
import os
import uuid
from datetime import datetime, timezone

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, constr

app = FastAPI()
connections: dict[str, WebSocket] = {}


# Debian's FastAPI 0.92 brings pydantic 1: strict strings, unknown fields forbidden, as in pushwire.
UserId = constr(strict=True, min_length=1, max_length=64, regex=r"^[A-Za-z0-9_.@:-]+$")


class SendMessage(BaseModel):
    class Config:
        extra = "forbid"

    sender: UserId
    receiver: UserId
    message: constr(strict=True, min_length=1, max_length=1000, regex=r"\S")


@app.websocket("/ws/{user_id}")
async def ws(websocket: WebSocket, user_id: str):
    await websocket.accept()
    connections[user_id] = websocket
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        if connections.get(user_id) is websocket:
            del connections[user_id]


@app.post("/send-message")
async def send_message(body: SendMessage):
    msg_id = str(uuid.uuid4())
    socket = connections.get(body.receiver)
    if socket is None:
        return {"status": "offline", "id": msg_id}
    await socket.send_json({"type": "message", "id": msg_id, "sender": body.sender, "receiver": body.receiver,
                            "message": body.message, "sentAt": datetime.now(timezone.utc).isoformat()})
    return {"status": "sent", "id": msg_id}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning", loop="uvloop", http="httptools", ws="websockets")
